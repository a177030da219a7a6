"""`incident-bot demo`: the whole product, with no Slack workspace.

The real server and app run against a local Slack stand-in (`slack_standin`, also the tests'
Web API stand-in) on a temporary SQLite database; `script` plays the reference incident.
"""
