"""Action items: the `action` grammar, due dates, and the items' lifecycle."""
