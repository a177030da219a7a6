# The Slack stand-in ships inside the package (the demo uses it); tests keep importing it as
# `tests.slack_standin`. An alias rather than a shim file, so git follows the move at merge.
import sys

from bot.demo import slack_standin

sys.modules[__name__ + ".slack_standin"] = slack_standin
