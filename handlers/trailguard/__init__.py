"""trailguard: keeps an AWS account's CloudTrail honest."""

__version__ = "0.1.0"
