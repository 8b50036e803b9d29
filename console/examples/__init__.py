"""Small examples the README quotes; each is imported and exercised by a test."""
