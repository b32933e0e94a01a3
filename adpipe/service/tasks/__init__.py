"""The served tasks, one module each; ``base`` holds what they share."""
