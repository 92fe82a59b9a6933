"""`manage.py model_path`: the folders the course's code samples load the built-in models from."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command


def test_prints_a_built_in_models_folder_that_from_pretrained_reads():
    out = StringIO()
    call_command("model_path", "minilm-l6-v2", stdout=out)
    folder = Path(out.getvalue().strip())
    assert (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file()


def test_lists_every_built_in_model_and_refuses_an_unknown_name():
    out = StringIO()
    call_command("model_path", stdout=out)
    names = [line.split("\t")[0] for line in out.getvalue().splitlines()]
    assert names == ["smollm2-135m-instruct", "minilm-l6-v2"]
    with pytest.raises(CommandError, match="No built-in model is named 'gpt-9'"):
        call_command("model_path", "gpt-9")
