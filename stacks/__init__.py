"""trailguard's CDK stacks. They take typed settings and never read os.environ."""
