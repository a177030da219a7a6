"""Learning across incidents: services and tags, related past incidents (the database's own text
search), the recurring-incident section and summary first draft, and the periodic review."""
