"""Voice notes, photos and documents: fetched in the worker for the turn that reads them, never kept past it."""
