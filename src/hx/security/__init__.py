"""Security: tokens and roles, the audit hash chain, secrets at rest, TOTP."""
