"""Articles, versions, the review state machine, users and roles, and the audit log."""
