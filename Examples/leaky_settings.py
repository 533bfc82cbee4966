"""Settings of a demo package, the kind of file that leaks credentials into PyPI releases.

Every credential below is fake: right prefix, length and alphabet, random body.
"""
import os

DEBUG = False
GITHUB_TOKEN = "ghp_8HlrwYMfvea9lkxwkkMxzwwM5hpA6eEfujfo"
AWS_ACCESS_KEY_ID = "AKIANXAW3BNMLIQXXY35"
AWS_SECRET_ACCESS_KEY = "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"
STRIPE_KEY = "sk_live_eytpVLqPb5cMpkON74U4YD4M"
SLACK_WEBHOOK = "https://hooks.slack.com/services/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"
DATABASE_URL = "postgres://app:X0h9JKN7E28r4unI@db.internal:5432/app"

# Placeholders and lookups a good scanner leaves alone:
EXAMPLE_KEY = "AKIAIOSFODNN7EXAMPLE"
API_TOKEN = os.environ["API_TOKEN"]
PASSWORD = "${DB_PASSWORD}"
