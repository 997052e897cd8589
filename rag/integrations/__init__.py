"""Third-party frameworks wired explicitly: llama-index lives only here."""
