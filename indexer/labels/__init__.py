"""Labels: the category taxonomy, frame classification and labelled segments."""
