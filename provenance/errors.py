class ProvenanceError(Exception):
    """Signing, verification or watermarking that cannot be done; the message is safe to show."""
