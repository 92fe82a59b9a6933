"""The sampling parameters are listed in four places that cannot import each other yet:
`SamplingParams` (the model code, which imports torch), the web side's table
(playground/params.py: the web process never imports torch), the lessons' Try-it
blocks (courseapp/rendering.py) and the playground's script. Until they are derived
from one definition, this test keeps them saying the same thing."""

import dataclasses
import re

from courseapp.rendering import TRYIT_PARAMS
from playground.ml.sampling import SamplingParams
from playground.params import PARAMS
from tests.processes import ROOT


def test_the_web_table_has_the_model_codes_parameters_and_defaults():
    fields = {f.name: f.default for f in dataclasses.fields(SamplingParams)}
    assert {name: spec[3] for name, spec in PARAMS.items()} == fields


def test_try_it_blocks_and_the_playground_script_name_the_same_parameters():
    assert set(TRYIT_PARAMS) == set(PARAMS)
    script = (ROOT / "static" / "js" / "playground.js").read_text(encoding="utf-8")
    listed = re.search(r"for \(const name of \[([^\]]*)\]\)", script)
    assert listed is not None, "playground.js no longer lists the parameters this way: update this test"
    assert set(re.findall(r'"(\w+)"', listed.group(1))) == set(PARAMS)
