"""Running untrusted notebooks: launcher.py outside the sandbox, executor/ inside it, limits.py shared."""
