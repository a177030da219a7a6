"""Talking to Slack: the Web API gateway, Block Kit within limits, and Slack's text conventions."""
