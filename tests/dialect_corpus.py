"""Reply shapes real local models sent, from public bug reports, as the first reply of a
one-file task (create mathx/__init__.py), each with what a faithful agent does with it:
the tools it runs, in order, or what it tells the model instead.

Each shape keeps the form the report shows (its markers, quoting, breakage) with the
task's tool and file put in; `source` names the report (repository#number)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PATH = "mathx/__init__.py"
CODE = "def add(a, b):\n    return a + b\n"
ARGS = {"path": PATH, "content": CODE}
J = json.dumps(ARGS)
CALL = json.dumps({"name": "write_file", "arguments": ARGS})
PY = repr({"name": "write_file", "arguments": ARGS})
QWEN = (f"<function=write_file>\n<parameter=path>\n{PATH}\n</parameter>\n<parameter=content>\n"
        f"{CODE}\n</parameter>\n</function>")


@dataclass(frozen=True)
class Shape:
    id: str
    source: str                       # the public report the shape comes from
    content: str = ""
    thinking: str = ""
    native: tuple[tuple[str, Any], ...] = ()  # (name, arguments as the server sent them)
    runs: tuple[str, ...] = ()        # tools a faithful agent runs, in order
    told: str = ""                    # part of the one line the model is told instead
    done_reason: str = ""


CORPUS: tuple[Shape, ...] = (
    # qwen3-coder / qwen3.5 XML
    Shape("qwen-xml", "ollama/ollama#18563", f"<tool_call>\n{QWEN}\n</tool_call>",
          runs=("write_file",)),
    Shape("qwen-xml-no-opening-tag", "AntSeed/antseed#213", f"{QWEN}\n</tool_call>",
          runs=("write_file",)),
    Shape("qwen-xml-after-prose", "theroyallab/tabbyAPI#378",
          f"I'll create the package now.\n\n<tool_call>\n{QWEN}\n</tool_call>",
          runs=("write_file",)),
    Shape("qwen-xml-list-parameter", "waybarrios/vllm-mlx#63",
          "<tool_call>\n<function=run_cmd>\n<parameter=cmd>\n['pytest', '-q']\n</parameter>\n"
          "</function>\n</tool_call>", runs=("run_cmd",)),
    Shape("qwen-xml-parameter-closed-by-function", "ollama/ollama#18563",
          f"<tool_call>\n<function=write_file>\n<parameter=path>\n{PATH}\n</parameter>\n"
          f"<parameter=content>\n{CODE}</function>\n</tool_call>", runs=("write_file",)),
    Shape("qwen-xml-loose-name", "theroyallab/tabbyAPI#378",
          f"<tool_call>\n<function=read>\n<parameter=file_path>\n{PATH}\n</parameter>\n"
          "</function>\n</tool_call>", told="did you mean read_file"),
    Shape("qwen-xml-cut-off", "QwenLM/qwen-code#2021",
          f"<tool_call>\n<function=write_file>\n<parameter=path>\n{PATH}\n</parameter>\n"
          "<parameter=content>\ndef add(a, b):\n    ret", told="cut off", done_reason="length"),
    Shape("qwen-xml-in-think", "lmstudio-ai/lmstudio-bug-tracker#1592",
          f"<think>Some models use <tool_call>{QWEN}</tool_call> here.</think>\nLet me check.",
          told="inside your reasoning"),
    # <invoke name=...>, MiniCPM, DeepSeek DSML
    Shape("invoke-xml", "anomalyco/opencode#6883",
          f'<invoke name="write_file">\n<parameter name="path">{PATH}</parameter>\n'
          f'<parameter name="content">{CODE}</parameter>\n</invoke>', runs=("write_file",)),
    Shape("invoke-child-tags", "anomalyco/opencode#6883",
          '<invoke name="run_cmd">\n  <cmd>pytest -q</cmd>\n</invoke>', runs=("run_cmd",)),
    Shape("minicpm-function-param", "jundot/omlx#3429",
          f'<function name="write_file"><param name="path">{PATH}</param>'
          f'<param name="content">{CODE}</param></function>', runs=("write_file",)),
    Shape("deepseek-dsml", "TokenRhythm/opensquilla#985",
          '<｜DSML｜tool_calls>\n<｜DSML｜invoke name="write_file">\n'
          f'<｜DSML｜parameter name="path" string="true">{PATH}</｜DSML｜parameter>\n'
          f'<｜DSML｜parameter name="content" string="true">{CODE}</｜DSML｜parameter>\n'
          '</｜DSML｜invoke>\n</｜DSML｜tool_calls>', runs=("write_file",)),
    Shape("deepseek-dsml-double-bars", "lsdefine/GenericAgent#804",
          '<｜｜DSML｜｜invoke name="list_dir">\n<｜｜DSML｜｜parameter name="path" '
          'string="true">.</｜｜DSML｜｜parameter>\n</｜｜DSML｜｜invoke>', runs=("list_dir",)),
    Shape("glm-arg-key-parallel", "lmstudio-ai/lmstudio-bug-tracker#1528",
          "<tool_call>list_dir<arg_key>path</arg_key><arg_value>.</arg_value></tool_call>\n"
          f"<tool_call>write_file<arg_key>path</arg_key><arg_value>{PATH}</arg_value>"
          f"<arg_key>content</arg_key><arg_value>{CODE}</arg_value></tool_call>",
          runs=("list_dir", "write_file")),
    Shape("glm-no-arguments-stray-token", "fw-ai-external/python-sdk#119",
          "<tool_call>list_dir</arg_value>", told="missing path"),
    Shape("kimi-k2-section", "vllm-project/vllm#31207",
          f"<|tool_calls_section_begin|><|tool_call_begin|>functions.write_file:0"
          f"<|tool_call_argument_begin|>{J}<|tool_call_end|><|tool_calls_section_end|>",
          runs=("write_file",)),
    Shape("kimi-k2-bare-index", "typeclaw/typeclaw#344",
          '<|tool_call_begin|> functions.list_dir:0 {"path": "."} <|tool_call_end|>',
          runs=("list_dir",)),
    # tags named after the tool
    Shape("tool-named-tags", "Kilo-Org/kilocode#4384",
          f"<write_file>\n<path>{PATH}</path>\n<content>{CODE}</content>\n</write_file>",
          runs=("write_file",)),
    Shape("tool-named-tag-json-body", "musistudio/claude-code-router#1340",
          f"<write_file>{J}</write_file>", runs=("write_file",)),
    # gpt-oss harmony
    Shape("harmony-in-content", "kekzl/imp#1719",
          f"<|channel|>commentary to=functions.write_file <|constrain|>json<|message|>{J}",
          runs=("write_file",)),
    Shape("harmony-glued-json", "ggml-org/llama.cpp#15158",
          f"<|start|>assistant<|channel|>commentary to=functions.write_filejson<|message|>{J}",
          runs=("write_file",)),
    Shape("harmony-after-analysis", "lablup/mlxcel#654",
          "<|channel|>analysis<|message|>We need to create the package.<|end|><|start|>"
          f"assistant<|channel|>commentary to=functions.write_file json<|message|>{J}<|call|>",
          runs=("write_file",)),
    # Run until issue 30: the thinking field is reasoning, and a header there is as likely
    # a call the model weighed and rejected (a prompt injection it read) as one it made.
    Shape("harmony-in-thinking", "Augustas11/macprovider#743",
          thinking="We need to write the module. <|start|>assistant<|channel|>commentary "
                   f"to=functions.write_file <|constrain|>json<|message|>{J}",
          told="inside your reasoning"),
    Shape("harmony-analysis-draft", "kekzl/imp#1716",
          f"<|channel|>analysis<|message|>Maybe {CALL} would do.<|end|>",
          told="inside your reasoning"),
    Shape("harmony-cut-off", "MiaAI-Lab/DeepSeek-v4-Flash-DSpark-2x-DGX-Spark#55",
          "<|channel|>commentary to=functions.write_file <|constrain|>json<|message|>"
          '{"path": "mathx/__init__.py", "content": "def add(a, b):\\n    re',
          told="cut off", done_reason="length"),
    # Llama 3.1 / 3.2
    Shape("llama31-function-tag", "meta-llama/llama-models#169",
          f"<function=write_file>{J}</function><|eot_id|>", runs=("write_file",)),
    Shape("llama31-python-tag", "meta-llama/llama-models#169",
          "<|python_tag|>" + json.dumps({"type": "function", "name": "write_file",
                                         "parameters": ARGS}), runs=("write_file",)),
    Shape("llama-semicolon-unknown", "ai-dynamo/dynamo#9536",
          '<|python_tag|>{"name": "list_dir", "parameters": {"path": "."}}; '
          '{"name": "get_fee_estimates", "parameters": {}}',
          runs=("list_dir",), told="`get_fee_estimates` is not a tool"),
    Shape("llama-semicolon-two", "lemonade-sdk/lemonade#1562",
          '{"name": "list_dir", "parameters": {"path": "."}}; '
          f'{{"name": "write_file", "parameters": {J}}}', runs=("list_dir", "write_file")),
    Shape("pythonic-list", "meta-llama/llama-models#169",
          f"[write_file(path={PATH!r}, content={CODE!r})]", runs=("write_file",)),
    Shape("pythonic-two-calls", "meta-llama/llama-models#169",
          "[list_dir(path='.'), read_file(path='pyproject.toml')]",
          runs=("list_dir", "read_file")),
    # Mistral / Devstral
    Shape("mistral-args", "raullenchai/Rapid-MLX#1071",
          f"[TOOL_CALLS]write_file[ARGS]{J}", runs=("write_file",)),
    Shape("mistral-no-args-marker", "raullenchai/Rapid-MLX#1071",
          f"[TOOL_CALLS]write_file{J}", runs=("write_file",)),
    Shape("mistral-list", "modelscope/ms-swift#5102", f"[TOOL_CALLS][{CALL}]",
          runs=("write_file",)),
    Shape("mistral-two", "raullenchai/Rapid-MLX#579",
          f'[TOOL_CALLS]list_dir[ARGS]{{"path": "."}}[TOOL_CALLS]write_file[ARGS]{J}',
          runs=("list_dir", "write_file")),
    # Gemma
    Shape("gemma4-quote-tokens", "ml-explore/mlx-lm#1105",
          f'<|tool_call>call:write_file{{path:<|"|>{PATH}<|"|>,content:<|"|>{CODE}<|"|>}}'
          "<tool_call|>", runs=("write_file",)),
    Shape("gemma4-brace", "NousResearch/hermes-agent#7449",
          f"call:write_file{{path: {json.dumps(PATH)}, content: {json.dumps(CODE)}}}",
          runs=("write_file",)),
    Shape("gemma4-parens", "NousResearch/hermes-agent#7457",
          '<|tool_call>call:list_dir(path: ".")<tool_call|>', runs=("list_dir",)),
    Shape("gemma4-doubled-name", "DenisovAV/flutter_gemma#228",
          '<|tool_call>call:list_dir:list_dir{path: "."}<tool_call|>', runs=("list_dir",)),
    Shape("gemma-in-reasoning", "THUDM/slime#2097",
          thinking='I should call:list_dir{path:<|"|>.<|"|>} first.', told="inside your reasoning"),
    # JSON, near-JSON, argument keys, names
    Shape("hermes-json", "verl-project/verl#4757", f"<tool_call>\n{CALL}\n</tool_call>",
          runs=("write_file",)),
    Shape("hermes-after-closed-think", "verl-project/verl#4757",
          f"<think>let me call <tool_call>{CALL}</tool_call></think>\n<tool_call>{CALL}"
          "</tool_call>", runs=("write_file",)),
    Shape("python-dict", "NousResearch/atropos#478", f"<tool_call>{PY}</tool_call>",
          runs=("write_file",)),
    Shape("single-quotes-python-words", "waybarrios/vllm-mlx#63",
          "{'name': 'read_file', 'arguments': {'path': 'setup.py', 'end_line': None}}",
          runs=("read_file",)),
    Shape("granite-list", "gpustack/llama-box#17", f"<tool_call>[{CALL}]",
          runs=("write_file",)),
    Shape("granite-function-call", "ibm-granite-community/granite-retrieval-agent#33",
          f"<function_call>{CALL}</function_call>", runs=("write_file",)),
    Shape("trailing-commas", "nearai/nearai#251",
          '{"name": "list_dir", "arguments": {"path": ".",},}', runs=("list_dir",)),
    Shape("literal-backslash-n", "nearai/nearai#251",
          '{"name": "list_dir",\\n "arguments": {"path": "."}\\n}', runs=("list_dir",)),
    Shape("parameters-key", "ahwurm/localharness#104",
          json.dumps({"name": "write_file", "parameters": ARGS}), runs=("write_file",)),
    Shape("params-key", "ollama/ollama#18388",
          json.dumps({"name": "write_file", "params": ARGS}), runs=("write_file",)),
    Shape("input-key", "microsoft/vscode#232143",
          json.dumps({"name": "write_file", "input": ARGS}), runs=("write_file",)),
    Shape("flattened-arguments", "cloudflare/ai#574",
          json.dumps({"name": "write_file", **ARGS}), runs=("write_file",)),
    Shape("fenced-json-protocol", "ollama/ollama-python#484",
          'Sure!\n```json\n{"tool": "list_dir", "args": {"path": "."}}\n```',
          runs=("list_dir",)),
    # native calls
    Shape("native-functions-prefix", "ggml-org/llama.cpp#15158",
          native=(("functions.write_file", ARGS),), runs=("write_file",)),
    Shape("native-case-variant", "jackmpcollins/magentic#207",
          native=(("Write_File", ARGS),), runs=("write_file",)),
    Shape("native-string-arguments", "ollama/ollama-python#484",
          native=(("write_file", J),), runs=("write_file",)),
    Shape("native-string-arguments-cut", "truehot/LMLocal#8",
          native=(("write_file", J[:40]),), told="cut off"),
    Shape("native-channel-name", "ollama/ollama#11704",
          native=(("assistant<|channel|>analysis", {"cmd": ["pytest"]}),),
          told="tools: read_file"),
    # what a faithful agent must not run
    Shape("think-only", "PrimeIntellect-ai/renderers#80",
          f"<think>I could call <tool_call>{CALL}</tool_call></think>\nHmm.",
          told="inside your reasoning"),
    Shape("prose-you-could-call", "Gitlawb/openclaude#380",
          f"You could call {CALL} to create the package yourself.", told="quoted in prose"),
    Shape("prose-inline-code", "Gitlawb/openclaude#380",
          'To look around, use `{"name": "list_dir", "arguments": {"path": "."}}` first.',
          told="quoted in prose"),
    Shape("shell-fence", "ollama/ollama#7544", "```bash\nls\n```", told="Shell text"),
    Shape("invented-tag", "musistudio/claude-code-router#1340", "<bash>ls -la</bash>",
          told="`<bash>` is not a tool call"),
    Shape("truncated-json", "GCWing/OpenBitFun#643", CALL[:70], told="cut off",
          done_reason="length"),
    Shape("unknown-tool", "simonw/llm#1105",
          '{"name": "execute_javascript", "arguments": {"code": "1+1"}}',
          told="the tools are: read_file"),
    Shape("ambiguous-name", "jackmpcollins/magentic#207",
          json.dumps({"name": "file", "arguments": {"path": PATH}}), told="could be"),
)
