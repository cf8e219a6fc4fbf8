"""Stories: every article placed in its real-world story as it arrives, near-copies marked."""
