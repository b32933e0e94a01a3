"""Every bad input on every command ends in one clear line, the right exit code and no damaged output.

Each case runs one command on a small, deliberately broken input. A case is *clear* when the command
exits with the documented code (1 bad input, 2 usage, 130 interrupted), shows no traceback, names
what is wrong on the last line of stderr, and leaves every file it found in its folder byte-identical
and no new one behind. Otherwise the verdict says how it failed: vague, traceback, wrongly accepted
(exit 0) or damaged. (The error boundary itself, bug against bad input: tests/test_error_boundary.py.)

    pytest tests/test_bad_inputs.py -q -p no:cacheprovider      # every case must be clear
    python -m tests.test_bad_inputs [PART ...] ["!PART" ...]   # the verdict table (of the cases whose id has PART)
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.bad_input_runner import (
    NEW_SESSIONS,
    NEW_USERS,
    SESSIONS,
    USERS,
    Case,
    Cmd,
    build_data,
    campaigns,
    case_folder,
    chmod,
    copy,
    duplicate_row,
    encoded,
    extra_column,
    few_users,
    field,
    first_rows,
    garbage,
    header_only,
    impressions,
    mkdir,
    model_file,
    new_sessions,
    new_users,
    profiles,
    replace,
    run_case,
    sessions,
    truncate_last_row,
    users,
    verdict_table,
    write,
)

TRAIN = Cmd("train --params {cs_params} --model {work}/model.joblib --train-dir", ("model.joblib",))
PREDICT = Cmd("predict --use-saved --model {cs_model} --output {work}/out.json --test-dir", ("out.json",))
PREDICT_TRAIN = Cmd(
    "predict --params {cs_params} --model {work}/model.joblib --output {work}/out.json --test-dir {cs_test} "
    "--train-dir",
    ("model.joblib", "out.json"),
)
VALIDATE = Cmd(
    "validate --folds 2 --repeats 1 --params {cs_params} --report {work}/report.json --train-dir", ("report.json",)
)
TUNE = Cmd(
    "tune --trials 1 --folds 2 --repeats 1 --storage sqlite:///{work}/o.db --params {work}/params.json --train-dir"
)
CTR_TRAIN = Cmd("ctr train --params {ctr_params} --model {work}/model.joblib --data", ("model.joblib",))
CTR_VALIDATE = Cmd(
    "ctr validate --folds 2 --repeats 1 --params {ctr_params} --report {work}/report.json --data", ("report.json",)
)
CTR_PREDICT = Cmd("ctr predict --model {ctr_model} --output {work}/out.csv --input", ("out.csv",))
ROAS_TRAIN = Cmd("roas train --model {work}/model.joblib --data", ("model.joblib",))
ROAS_VALIDATE = Cmd("roas validate --folds 2 --repeats 1 --report {work}/report.json --data", ("report.json",))
ROAS_PREDICT = Cmd("roas predict --model {roas_model} --output {work}/out.csv --input", ("out.csv",))
ROAS_SUMMARY = Cmd("roas summary --output {work}/out.csv --data", ("out.csv",))
ROAS_PLAN = Cmd("roas plan --folds 2 --repeats 1 --report {work}/plan.json --data", ("plan.json",))
ROAS_CURVES = Cmd("roas curves --report {work}/curves.json --data", ("curves.json",))
SEG_FIT = Cmd(
    "segment fit --bootstraps 2 --shuffles 1 --model {work}/model.joblib --report {work}/report.json --input",
    ("model.joblib", "report.json"),
)
SEG_ASSIGN = Cmd("segment assign --model {seg_model} --output {work}/out.csv --input", ("out.csv",))
SEG_PROFILE = Cmd("segment profile --output {work}/out.csv --input {profiles}", ("out.csv",))
CONV_VALIDATE = Cmd(
    "conversion validate --folds 2 --repeats 1 --permutations 1 --models linear --report {work}/report.json --input",
    ("report.json",),
)
CONV_TRAIN = Cmd(
    "conversion train --folds 2 --repeats 1 --permutations 1 --models linear --report {work}/report.json "
    "--model {work}/model.joblib --input {profiles}",
    ("report.json", "model.joblib"),
)
CONV_PREDICT = Cmd("conversion predict --model {conv_model} --output {work}/out.csv --input", ("out.csv",))
SYNTH = Cmd("synth --users 50 --sessions-per-user 2 --out {work}/synth")
STUDY = Cmd("study stats --storage sqlite:///{work}/o.db --study")

WITH_PARAMS = "{cs_train} --params {work}/p.json"
IMPRESSIONS, PROFILES = "{work}/impressions.csv", "{work}/p.csv"
IN_WORK = "--model {work}/m.joblib --params {work}/p.json"  # a case run as nobody reads only its own folder
GOOD_PARAMS = copy("cs_params", "params.json")
SYNTH_TRAIN = (write(f"synth/train/{USERS}"), write(f"synth/train/{SESSIONS}"))
DB = ("o.db",)
ADS = "{work}/ads.csv"
MAPPING = """spend = "Spent"
impressions = "Impressions"
clicks = "Clicks"
conversion = ["Total_Conversion:5", "Approved_Conversion:100"]
segment = ["xyz_campaign_id", "age", "gender", "interest"]
group = "fb_campaign_id"
"""
C = Case
# fmt: off
CASES = [
    # ClickStream data: value rules, encodings, unreadable and missing files.
    C("train: negative age", TRAIN, "{work}/t", (USERS, "age"), setup=users(field("age", "-5"))),
    C("train: age beyond int64", TRAIN, "{work}/t", (USERS, "age"), setup=users(field("age", "9" * 20))),
    C("train: negative page_views", TRAIN, "{work}/t", (SESSIONS, "page_views"),
      setup=sessions(field("page_views", "-3"))),
    C("train: session_duration wraps int64", TRAIN, "{work}/t", (SESSIONS, "session_duration"),
      setup=sessions(field("session_duration", str(2**63)))),
    C("train: infinite session_duration", TRAIN, "{work}/t", (SESSIONS, "session_duration"),
      setup=sessions(field("session_duration", "inf"))),
    C("train: duplicated header name", TRAIN, "{work}/t", (USERS, "age"), setup=users(extra_column("age", "30"))),
    C("train: UTF-16 user file", TRAIN, "{work}/t", (USERS,), setup=users(encoded("utf-16"))),
    C("train: Latin-1 session file", TRAIN, "{work}/t", (SESSIONS,),
      setup=sessions(field("country", "Curaçao"), encoded("latin-1"))),
    C("train: binary user file", TRAIN, "{work}/t", (USERS,), setup=users(garbage)),
    C("train: one class only", TRAIN, "{work}/t", (USERS, "marketing_target"),
      setup=users(field("marketing_target", "1", 0))),
    C("validate: one class only", VALIDATE, "{work}/t", (USERS, "marketing_target"),
      setup=users(field("marketing_target", "2", 0))),
    C("train: wrong delimiter", TRAIN, "{work}/t", (USERS,), setup=users(lambda text: text.replace(";", ","))),
    C("train: misspelled column", TRAIN, "{work}/t", (USERS, "age"), setup=users(replace(";age;", ";agee;"))),
    C("train: non-numeric age", TRAIN, "{work}/t", (USERS, "age", "line 3"), setup=users(field("age", "twenty", 2))),
    C("train: unknown user_category", TRAIN, "{work}/t", (USERS, "user_category"),
      setup=users(field("user_category", "vip"))),
    C("train: duplicate user_id", TRAIN, "{work}/t", (USERS, "user_id"), setup=users(duplicate_row)),
    C("train: session of an unknown user", TRAIN, "{work}/t", (SESSIONS, "user_id"),
      setup=sessions(field("user_id", "ghost"))),
    C("train: --train-dir missing", TRAIN, "{work}/nowhere", ("nowhere",)),
    C("train: --train-dir is a file", TRAIN, "{work}/afile", ("afile",), setup=write("afile")),
    C("train: unreadable user file", TRAIN, "{work}/t " + IN_WORK, (USERS,), process="unprivileged",
      setup=(users(), copy("cs_params", "p.json"), chmod(f"t/{USERS}", 0))),
    C("predict: truncated last test row", PREDICT, "{work}/t", (NEW_SESSIONS, "line"),
      setup=new_sessions(truncate_last_row)),
    C("predict: empty test user file", PREDICT, "{work}/t", (NEW_USERS,), setup=new_users(header_only)),
    C("predict: negative test age", PREDICT, "{work}/t", (NEW_USERS, "age"), setup=new_users(field("age", "-1"))),
    C("predict: duplicate test_id", PREDICT, "{work}/t", (NEW_USERS, "test_id"),
      setup=new_users(field("test_id", "1", 2))),
    C("predict: Latin-1 test users", PREDICT, "{work}/t", (NEW_USERS,),
      setup=new_users(field("age", "3é"), encoded("latin-1"))),
    C("predict: train data with one class", PREDICT_TRAIN, "{work}/t", (USERS, "marketing_target"),
      setup=users(field("marketing_target", "3", 0))),
    # Params files: types, ranges, paths.
    C("train: n_estimators 'many'", TRAIN, WITH_PARAMS, ("p.json", "n_estimators"),
      setup=write("p.json", '{"lightgbm": {"n_estimators": "many"}}')),
    C("train: n_estimators true", TRAIN, WITH_PARAMS, ("p.json", "n_estimators"),
      setup=write("p.json", '{"lightgbm": {"n_estimators": true}}')),
    C("train: negative learning_rate", TRAIN, WITH_PARAMS, ("p.json", "learning_rate"),
      setup=write("p.json", '{"lightgbm": {"learning_rate": -0.1}}')),
    C("train: num_leaves 1", TRAIN, WITH_PARAMS, ("p.json", "num_leaves"),
      setup=write("p.json", '{"lightgbm": {"num_leaves": 1}}')),
    C("train: --params is a folder", TRAIN, "{cs_train} --params {work}/pdir", ("pdir",), setup=mkdir("pdir")),
    C("train: mistyped --params path", TRAIN, "{cs_train} --params {work}/paramz.json", ("paramz.json",)),
    C("train: params not JSON", TRAIN, WITH_PARAMS, ("p.json", "JSON"), setup=write("p.json", "{lightgbm: 1")),
    C("train: params unknown key", TRAIN, WITH_PARAMS, ("p.json", "n_trees"), setup=write("p.json", '{"n_trees": 5}')),
    C("train: params unknown imbalance", TRAIN, WITH_PARAMS, ("p.json", "imbalance"),
      setup=write("p.json", '{"imbalance": "smoote"}')),
    C("train: params lightgbm not an object", TRAIN, WITH_PARAMS, ("p.json", "lightgbm"),
      setup=write("p.json", '{"lightgbm": 5}')),
    C("validate: subsample 1.5", VALIDATE, WITH_PARAMS, ("p.json", "subsample"),
      setup=write("p.json", '{"lightgbm": {"subsample": 1.5}}')),
    C("validate: n_estimators 2.5", VALIDATE, WITH_PARAMS, ("p.json", "n_estimators"),
      setup=write("p.json", '{"lightgbm": {"n_estimators": 2.5}}')),
    C("predict: empty feature_groups", PREDICT_TRAIN, WITH_PARAMS, ("p.json", "feature_groups"),
      setup=write("p.json", '{"feature_groups": []}')),
    C("predict: negative min_child_samples", PREDICT_TRAIN, WITH_PARAMS, ("p.json", "min_child_samples"),
      setup=write("p.json", '{"lightgbm": {"min_child_samples": -1}}')),
    C("train: boosting_type rf without bagging", TRAIN, WITH_PARAMS, ("p.json", "LightGBM refused"),
      setup=write("p.json", '{"lightgbm": {"boosting_type": "rf"}}')),
    C("validate: boosting_type rf without bagging", VALIDATE, WITH_PARAMS, ("p.json", "LightGBM refused"),
      setup=write("p.json", '{"lightgbm": {"boosting_type": "rf"}}')),
    C("tune: params file with num_leaves 1", TUNE, "{cs_train}", ("params.json", "num_leaves"), may_write=DB,
      setup=write("params.json", '{"lightgbm": {"num_leaves": 1}}')),
    # Model files.
    C("predict: random-bytes --model", PREDICT, "{cs_test} --model {work}/m.joblib", ("m.joblib", "train"),
      setup=write("m.joblib", garbage(""))),
    C("predict: truncated --model", PREDICT, "{cs_test} --model {work}/m.joblib", ("m.joblib", "train"),
      setup=model_file("cs_model", "truncated")),
    C("predict: empty --model", PREDICT, "{cs_test} --model {work}/m.joblib", ("m.joblib", "train"),
      setup=model_file("cs_model", "empty")),
    C("predict: --model is a folder", PREDICT, "{cs_test} --model {work}/mdir", ("mdir",), setup=mkdir("mdir")),
    C("predict: missing --model", PREDICT, "{cs_test} --model {work}/none.joblib", ("none.joblib", "train")),
    C("predict: another task's --model", PREDICT, "{cs_test} --model {ctr_model}", ("ctr_model.joblib", "clickstream")),
    # Outputs that cannot be written.
    C("predict: --output is a folder", PREDICT, "{cs_test} --output {work}/outdir", ("outdir",), setup=mkdir("outdir")),
    C("predict: --output under a regular file", PREDICT, "{cs_test} --output {work}/afile/p.json", ("afile",),
      setup=write("afile")),
    C("train: --model is a folder", TRAIN, "{cs_train} --model {work}/mdir", ("mdir",), setup=mkdir("mdir")),
    C("validate: --report under a regular file", VALIDATE, "{cs_train} --report {work}/afile/r.json", ("afile",),
      setup=write("afile")),
    # Main-task options.
    C("validate: --folds 1", VALIDATE, "{cs_train} --folds 1", ("--folds",), 2),
    C("validate: --repeats 0", VALIDATE, "{cs_train} --repeats 0", ("--repeats",), 2),
    C("train: negative --seed", TRAIN, "{cs_train} --seed -1", ("--seed",), 2),
    C("validate: more --folds than the rarest class has users", VALIDATE, "{cs_train} --folds 40", ("--folds",), 2),
    C("tune: empty --study", TUNE, "{cs_train} --study ''", ("--study",), 2, setup=GOOD_PARAMS, may_write=DB),
    C("tune: --folds 1", TUNE, "{cs_train} --folds 1", ("--folds",), 2, setup=GOOD_PARAMS),
    C("tune: --trials 0", TUNE, "{cs_train} --trials 0", ("--trials",), 2, setup=GOOD_PARAMS, may_write=DB),
    C("tune: --timeout -5", TUNE, "{cs_train} --timeout -5", ("--timeout",), 2, setup=GOOD_PARAMS, may_write=DB),
    C("tune: unknown --pruner", TUNE, "{cs_train} --pruner bogus", ("--pruner",), 2, setup=GOOD_PARAMS, may_write=DB),
    C("tune: malformed --storage", TUNE, "{cs_train} --storage nonsense", ("storage", "nonsense"), setup=GOOD_PARAMS),
    C("study stats: unknown study", STUDY, "nope", ("nope",), may_write=DB),
    # CTR.
    C("ctr train: n_estimators 'many'", CTR_TRAIN, "{ctr} --params {work}/p.json", ("p.json", "n_estimators"),
      setup=write("p.json", '{"lightgbm": {"n_estimators": "many"}}')),
    C("ctr validate: mistyped --params path", CTR_VALIDATE, "{ctr} --params {work}/paramz.json", ("paramz.json",)),
    C("ctr train: bad --imbalance", CTR_TRAIN, "{ctr} --imbalance bogus", ("--imbalance",), 2),
    C("ctr validate: bad --features", CTR_VALIDATE, "{ctr} --features bogus", ("--features",), 2),
    C("ctr train: --threshold 2", CTR_TRAIN, "{ctr} --threshold 2", ("--threshold",), 2),
    C("ctr validate: --folds 1", CTR_VALIDATE, "{ctr} --folds 1", ("--folds",), 2),
    C("ctr validate: bad --group-by", CTR_VALIDATE, "{ctr} --group-by bogus", ("--group-by",), 2),
    C("ctr tune: --trials 0", Cmd("ctr tune --storage sqlite:///{work}/o.db --params {work}/params.json --data {ctr}"),
      "--trials 0", ("--trials",), 2, may_write=DB),
    C("ctr predict: random-bytes --model", CTR_PREDICT, "{ctr} --model {work}/m.joblib", ("m.joblib", "train"),
      setup=write("m.joblib", garbage(""))),
    C("ctr predict: --output is a folder", CTR_PREDICT, "{ctr} --output {work}/outdir", ("outdir",),
      setup=mkdir("outdir")),
    C("ctr train: UTF-16 data", CTR_TRAIN, "{work}/impressions.csv", ("impressions.csv",),
      setup=impressions(encoded("utf-16"))),
    C("ctr train: negative Age", CTR_TRAIN, "{work}/impressions.csv", ("impressions.csv", "Age"),
      setup=impressions(field("Age", "-5"))),
    C("ctr train: label 2", CTR_TRAIN, "{work}/impressions.csv", ("impressions.csv", "Clicked on Ad"),
      setup=impressions(field("Clicked on Ad", "2"))),
    C("ctr train: infinite Area Income", CTR_TRAIN, "{work}/impressions.csv", ("impressions.csv", "Area Income"),
      setup=impressions(field("Area Income", "inf"))),
    C("ctr predict: duplicated header name", CTR_PREDICT, "{work}/impressions.csv", ("impressions.csv", "Age"),
      setup=impressions(extra_column("Age", "30"))),
    C("ctr train: unknown objective", CTR_TRAIN, "{ctr} --params {work}/p.json", ("p.json", "objective"),
      setup=write("p.json", '{"lightgbm": {"objective": "bogus"}}')),
    C("ctr validate: more forward --folds than rows", CTR_VALIDATE, "{ctr} --no-audit --folds 1000", ("--folds",), 2),
    C("ctr holdout: --months beyond the file",
      Cmd("ctr holdout --params {ctr_params} --report {work}/r.json --data {ctr}", ("r.json",)), "--months 40",
      ("--months",), 2),
    C("ctr seed-approach: --folds 1", Cmd("ctr seed-approach --report {work}/r.json --data {ctr}", ("r.json",)),
      "--folds 1", ("--folds",), 2),
    # ROAS and the funnel.
    C("roas train: Clicks > Impressions", ROAS_TRAIN, "{work}/ads.csv", ("ads.csv", "Clicks"),
      setup=campaigns(field("Clicks", "99999999"))),
    C("roas train: infinite Spent", ROAS_TRAIN, ADS, ("ads.csv", "Spent"), setup=campaigns(field("Spent", "inf"))),
    C("roas train: duplicate ad_id", ROAS_TRAIN, ADS, ("ads.csv", "ad_id"), setup=campaigns(duplicate_row)),
    C("roas predict: duplicate ad_id", ROAS_PREDICT, ADS, ("ads.csv", "ad_id"), setup=campaigns(duplicate_row)),
    C("roas predict: NaN Spent", ROAS_PREDICT, ADS, ("ads.csv", "Spent"), setup=campaigns(field("Spent", "nan"))),
    C("roas predict: missing --input", ROAS_PREDICT, "{work}/none.csv", ("none.csv",)),
    C("roas predict: empty --model", ROAS_PREDICT, "{ads} --model {work}/m.joblib", ("m.joblib", "train"),
      setup=model_file("roas_model", "empty")),
    C("roas train: bad --mode", ROAS_TRAIN, "{ads} --mode bogus", ("--mode",), 2),
    C("roas validate: negative --value-sale", ROAS_VALIDATE, "{ads} --value-sale -1", ("--value-sale",), 2),
    C("roas validate: --folds 1", ROAS_VALIDATE, "{ads} --folds 1", ("--folds",), 2),
    C("roas validate: more --folds than ads", ROAS_VALIDATE, "{ads} --folds 1000", ("--folds",), 2),
    C("roas plan: zero --budget", ROAS_PLAN, "{ads} --budget 0", ("--budget",), 2),
    C("roas plan: negative --budget", ROAS_PLAN, "{ads} --budget -5", ("--budget",), 2),
    C("roas plan: --budget not a number", ROAS_PLAN, "{ads} --budget lots", ("--budget",), 2),
    C("roas plan: --budget below the fixed spend", ROAS_PLAN, "{ads} --budget 1 --fix 1178/30-34/M",
      ("--budget", "fixed"), 2),
    C("roas plan: --min above --max", ROAS_PLAN, "{ads} --min 1178/30-34/M=500 --max 1178/30-34/M=100",
      ("1178/30-34/M", "--min", "--max"), 2),
    C("roas plan: minimums above the budget", ROAS_PLAN, "{ads} --budget 100 --min *=50", ("--budget", "minimum"), 2),
    C("roas plan: unknown --by column", ROAS_PLAN, "{ads} --by xyz_campaign_id,colour", ("--by", "colour"), 2),
    C("roas curves: unknown --by column", ROAS_CURVES, "{ads} --by region", ("--by", "region"), 2),
    C("roas plan: no segment has spend", ROAS_PLAN, ADS, ("ads.csv", "Spent"), setup=campaigns(field("Spent", "0", 0))),
    C("roas summary: bad --by", ROAS_SUMMARY, "{ads} --by bogus", ("--by",), 2),
    C("roas summary: --output under a regular file", ROAS_SUMMARY, "{ads} --output {work}/afile/s.csv", ("afile",),
      setup=write("afile")),
    C("roas funnel: Latin-1 data", Cmd("roas funnel --folds 2 --repeats 1 --report {work}/r.json --data", ("r.json",)),
      ADS, ("ads.csv",), setup=campaigns(replace("\n", ",é\n"), encoded("latin-1"))),
    # Campaign mappings (--mapping FILE, --column ROLE=NAME): the role and the column, before any output.
    C("roas validate: mapping names a missing column", ROAS_VALIDATE, ADS + " --mapping {work}/m.toml",
      ("ads.csv", "role 'spend'", "Cost"), setup=(campaigns(), write("m.toml", MAPPING.replace("Spent", "Cost")))),
    C("roas summary: mapping names a column twice", ROAS_SUMMARY, ADS + " --mapping {work}/m.toml",
      ("m.toml", "role 'clicks'", "Impressions"),
      setup=(campaigns(), write("m.toml", MAPPING.replace('"Clicks"', '"Impressions"')))),
    C("roas train: mapping with an unknown role", ROAS_TRAIN, ADS + " --mapping {work}/m.toml",
      ("m.toml", "unknown role 'budget'"), setup=(campaigns(), write("m.toml", MAPPING + 'budget = "Spent"\n'))),
    C("roas funnel: mapping file missing", Cmd("roas funnel --folds 2 --repeats 1 --report {work}/r.json --data",
      ("r.json",)), ADS + " --mapping {work}/none.toml", ("none.toml",), setup=campaigns()),
    C("roas validate: --column names a missing column", ROAS_VALIDATE, ADS + " --column clicks=Link_clicks",
      ("ads.csv", "role 'clicks'", "Link_clicks"), setup=campaigns()),
    C("roas summary: --column maps a column twice", ROAS_SUMMARY, ADS + " --column spend=Clicks",
      ("--column", "role 'clicks'", "Clicks"), 2, setup=campaigns()),
    C("roas predict: --column unknown role", ROAS_PREDICT, ADS + " --column budget=Spent",
      ("--column", "unknown role 'budget'"), 2, setup=campaigns()),
    C("roas summary: mapped negative spend", ROAS_SUMMARY, ADS + " --column segment=age",
      ("ads.csv", "Spent", "role 'spend'"), setup=campaigns(field("Spent", "-2", 3))),
    C("roas summary: mapped date not a date", ROAS_SUMMARY, ADS + " --column segment=age --column date=gender",
      ("ads.csv", "gender", "role 'date'"), setup=campaigns()),
    C("roas validate: mapping without a group", ROAS_VALIDATE, ADS + " --mapping {work}/m.toml",
      ("role 'group'",), setup=(campaigns(), write("m.toml", MAPPING.replace('group = "fb_campaign_id"', "")))),
    # Segments.
    C("segment fit: --k 1", SEG_FIT, "{profiles} --k 1", ("--k",), 2),
    C("segment fit: reversed --k-range", SEG_FIT, "{profiles} --k-range 5-2", ("--k-range",), 2),
    C("segment fit: --bootstraps 0", SEG_FIT, "{profiles} --k 2 --bootstraps 0", ("--bootstraps",), 2),
    C("segment fit: --report is a folder", SEG_FIT, "{profiles} --k 2 --report {work}/rdir", ("rdir",),
      setup=mkdir("rdir")),
    C("segment fit: duplicate User ID", SEG_FIT, "{work}/p.csv --k 2", ("p.csv", "User ID"),
      setup=profiles(duplicate_row)),
    C("segment fit: CTR above 1", SEG_FIT, "{work}/p.csv --k 2", ("p.csv", "Click-Through Rates (CTR)"),
      setup=profiles(field("Click-Through Rates (CTR)", "1.5"))),
    C("segment fit: clickstream with negative age", SEG_FIT, "{work}/t --source clickstream --k 2", (USERS, "age"),
      setup=users(field("age", "-5"))),
    C("segment assign: random-bytes --model", SEG_ASSIGN, "{profiles} --model {work}/m.joblib",
      ("m.joblib", "segment fit"), setup=write("m.joblib", garbage(""))),
    C("segment assign: UTF-16 input", SEG_ASSIGN, "{work}/p.csv", ("p.csv",), setup=profiles(encoded("utf-16"))),
    C("segment profile: another task's --model", SEG_PROFILE, "--model {cs_model}", ("cs_model.joblib", "segments")),
    # Conversion.
    C("conversion validate: --alpha 2", CONV_VALIDATE, "{profiles} --alpha 2", ("--alpha",), 2),
    C("conversion validate: --permutations 0", CONV_VALIDATE, "{profiles} --permutations 0", ("--permutations",), 2),
    C("conversion validate: unknown --models", CONV_VALIDATE, "{profiles} --models bogus", ("--models",), 2),
    C("conversion validate: --folds 1", CONV_VALIDATE, "{profiles} --folds 1", ("--folds",), 2),
    C("conversion validate: infinite Likes", CONV_VALIDATE, "{work}/p.csv", ("p.csv", "Likes and Reactions"),
      setup=profiles(field("Likes and Reactions", "inf"))),
    C("conversion train: --model is a folder", CONV_TRAIN, "--model {work}/mdir", ("mdir",), setup=mkdir("mdir")),
    C("conversion predict: truncated --model", CONV_PREDICT, "{profiles} --model {work}/m.joblib",
      ("m.joblib", "train"), setup=model_file("conv_model", "truncated")),
    C("conversion predict: Latin-1 input", CONV_PREDICT, "{work}/p.csv", ("p.csv",),
      setup=profiles(replace("Female", "Fémale"), encoded("latin-1"))),
    C("conversion predict: --output in a read-only folder", CONV_PREDICT,
      "{work}/p.csv --model {work}/m.joblib --output {work}/ro/out.csv", ("ro/out.csv",), process="unprivileged",
      setup=(profiles(), copy("conv_model", "m.joblib"), mkdir("ro"), chmod("ro", 0o555))),
    # The benchmark.
    C("bench run: unknown --engines", Cmd("bench run --sizes 10 --report {work}/r.json", ("r.json",)),
      "--engines bogus", ("--engines",), 2),
    C("bench run: --sizes not a number", Cmd("bench run --engines memory --report {work}/r.json", ("r.json",)),
      "--sizes ten", ("--sizes",), 2),
    # Synthetic data.
    C("synth: --users 0", SYNTH, "--users 0", ("--users",), 2),
    C("synth: infinite --sessions-per-user", SYNTH, "--sessions-per-user inf", ("--sessions-per-user",), 2),
    C("synth: NaN --sessions-per-user", SYNTH, "--sessions-per-user nan", ("--sessions-per-user",), 2),
    C("synth: negative --seed", SYNTH, "--seed -1", ("--seed",), 2),
    C("synth: bad --split", SYNTH, "--split bogus", ("--split",), 2),
    C("synth: more than the free disk space", SYNTH, "--users 1000000000 --sessions-per-user 1000", ("synth", "free"),
      process="subprocess"),
    C("synth: --out under a regular file", SYNTH, "--out {work}/afile/synth", ("afile",), setup=write("afile")),
    C("synth: test folder blocked half-way", SYNTH, "", ("synth/test",), setup=(*SYNTH_TRAIN, write("synth/test"))),
    # Training files too small, or with nothing to learn: one line naming the file, the column and the need (issue 36).
    C("train: 7 users", TRAIN, "{work}/t", (USERS, "marketing_target", "at least"), setup=few_users(7)),
    C("validate: one class", VALIDATE, "{work}/t", (USERS, "marketing_target", "one class"),
      setup=users(field("marketing_target", "1", 0))),
    *(C(f"{cmd.args.split(' --')[0]}: {what}", cmd, IMPRESSIONS, ("impressions.csv", "Clicked on Ad", words),
        setup=impressions(edit)) for cmd in (CTR_TRAIN, CTR_VALIDATE)
      for what, words, edit in (("7 rows", "at least", first_rows(7)),
                                ("one class", "one class", field("Clicked on Ad", "0", 0)))),
    C("conversion validate: 7 profiles", CONV_VALIDATE, PROFILES, ("p.csv", "Conversion Rates", "at least"),
      setup=profiles(first_rows(7))),
    C("conversion train: one value", CONV_TRAIN, f"--input {PROFILES}", ("p.csv", "Conversion Rates", "one value"),
      setup=profiles(field("Conversion Rates", "0.1", 0))),
    C("segment fit: 7 profiles", SEG_FIT, PROFILES, ("p.csv", "k="), setup=profiles(first_rows(7))),
    C("roas train: 5 ads", ROAS_TRAIN, ADS, ("ads.csv", "Spent", "at least"), setup=campaigns(first_rows(5))),
    C("roas validate: one value", ROAS_VALIDATE, ADS, ("ads.csv", "Spent", "one value"),
      setup=campaigns(field("Total_Conversion", "0", 0), field("Approved_Conversion", "0", 0))),
    # The real process: exit codes and Ctrl-C.
    C("predict (process): missing --model", PREDICT, "{cs_test} --model {work}/none.joblib", ("none.joblib",),
      process="subprocess"),
    C("validate (process): --folds 1", VALIDATE, "{cs_train} --folds 1", ("--folds",), 2, process="subprocess"),
    C("synth (process): Ctrl-C while writing", SYNTH, "--users 3000000", ("interrupted",), 130, setup=SYNTH_TRAIN,
      process="interrupt", interrupt_on=b"synth train"),
    C("tune (process): Ctrl-C during a trial", TUNE, "{cs_train} --trials 1000", ("interrupted",), 130,
      setup=GOOD_PARAMS, may_write=DB, process="interrupt", interrupt_on=b"tune "),
]
# fmt: on


@pytest.fixture(scope="session")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return build_data(tmp_path_factory.mktemp("bad-inputs"))


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_ends_in_one_clear_line(case: Case, data: dict[str, str], tmp_path: Path) -> None:
    work = case_folder(case, tmp_path)
    try:
        verdict, detail = run_case(case, work, data)
    finally:
        if work != tmp_path:
            shutil.rmtree(work)
    assert verdict == "clear", f"{verdict}: {detail}"


if __name__ == "__main__":
    verdict_table(CASES, sys.argv[1:])
