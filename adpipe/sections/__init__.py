"""The dashboard kit: what a section uses, below the tasks whose ``dashboard`` modules build sections and the
dashboard app that puts them on one page.

- ``page``: what a section is made of (figures with their caption and protocol, tables, notes, overview cards)
  and the page's look for a figure;
- ``sources``: reading each input, or saying which command produces it.
"""
