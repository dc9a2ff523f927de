#!/usr/bin/python3
"""Reference renderer for the chat-template tests.

Renders a Jinja chat template the way Hugging Face's apply_chat_template
does (sandboxed environment, trim_blocks and lstrip_blocks, loop controls,
raise_exception, strftime_now, tojson) for a list of cases.

usage: render_reference.py TEMPLATE_FILE REQUEST_FILE
REQUEST_FILE is JSON: {"bos_token": str, "eos_token": str, "now": epoch seconds,
"cases": [{"messages": [{"role", "content", ...}...], "tools": [...] (optional),
"add_generation_prompt": bool}...]}.
For each case, stdout gets "OK <n>\\n" or "ERROR <n>\\n" followed by n bytes
(the UTF-8 rendering or the error message).
"""
import datetime
import json
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment


def main():
    template_text = open(sys.argv[1], encoding="utf-8").read()
    request = json.load(open(sys.argv[2], encoding="utf-8"))
    now = datetime.datetime.fromtimestamp(request.get("now", 0), datetime.timezone.utc)

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: now.strftime(fmt)
    try:
        template = env.from_string(template_text)
    except Exception as e:  # a syntax error: every case reports it
        template = None
        syntax_error = str(e)

    out = sys.stdout.buffer
    for case in request["cases"]:
        if template is None:
            payload = syntax_error.encode("utf-8")
            out.write(("ERROR %d\n" % len(payload)).encode("ascii"))
            out.write(payload)
            continue
        try:
            variables = dict(messages=case["messages"], add_generation_prompt=case["add_generation_prompt"],
                             bos_token=request["bos_token"], eos_token=request["eos_token"])
            if "tools" in case:
                variables["tools"] = case["tools"]
            text = template.render(**variables)
            status, payload = "OK", text.encode("utf-8")
        except Exception as e:  # the template's own errors and Jinja's
            status, payload = "ERROR", str(e).encode("utf-8")
        out.write(("%s %d\n" % (status, len(payload))).encode("ascii"))
        out.write(payload)
    out.flush()


if __name__ == "__main__":
    main()
