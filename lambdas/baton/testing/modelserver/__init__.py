"""A scripted model on 127.0.0.1 speaking the Anthropic Messages API (what Claude Code calls
through ``ANTHROPIC_BASE_URL``) and Bedrock's Converse API (what boto3 calls through
``endpoint_url``). Start it in-process with :class:`ModelServer`, or as a process with
``python -m baton.testing.modelserver --script FILE --port N``."""

from baton.testing.modelserver.script import Fault, Script, ScriptError, ToolCall, Turn, load_script
from baton.testing.modelserver.server import ModelServer, RecordedRequest

__all__ = ["Fault", "ModelServer", "RecordedRequest", "Script", "ScriptError", "ToolCall", "Turn", "load_script"]
