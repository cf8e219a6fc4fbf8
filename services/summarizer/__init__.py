"""The summarizer service."""
