"""Services do the work: they validate business rules, change the database and commit."""
