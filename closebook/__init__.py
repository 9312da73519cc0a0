"""closebook: the month-end close for usage billing (the library; Prefect lives in `flows/`)."""
