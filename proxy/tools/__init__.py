"""Small programs that go with the proxy: `python -m proxy.tools.echo` (an echo upstream)."""
