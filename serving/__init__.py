"""The BentoML service, explanations, auth, audit log and practitioner page."""
