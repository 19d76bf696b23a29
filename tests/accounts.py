"""The password every test user gets (a module of its own: the browser helpers need it too)."""

PASSWORD = "test-password-0123"
