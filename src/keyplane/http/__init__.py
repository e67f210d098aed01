"""What every HTTP surface shares: OpenAI's error envelope and the request metrics."""
