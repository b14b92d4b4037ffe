"""The clip downloads consumer: fed `ClipCreated` by a rule on the bus, retried into a dead-letter
queue, PyAV from a layer of its own (no other function carries it), allowed to read, write and
delete objects below the clips prefix and to read and update the vods table's items, nothing else."""

import json

from letslive.constants import ENV_MEDIA_BUCKET, Table, table_env_var
from tests.infra.conftest import Synthesized
from tests.infra.test_api_stack import _asset_dir
from tests.infra.test_vod_media_stack import _actions, _statements

HANDLER = "functions.vods.downloads.handler"


def test_a_rule_feeds_clip_created_to_the_consumer_with_retries_and_a_dead_letter_queue(
    aws_app: Synthesized,
) -> None:
    template = aws_app.template("Api")
    functions = template.find_resources("AWS::Lambda::Function")
    ((name, fn),) = [(n, f) for n, f in functions.items() if f["Properties"]["Handler"] == HANDLER]
    (rule,) = [
        r
        for r in template.find_resources("AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("detail-type") == ["ClipCreated"]
    ]
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [name, "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    assert "DeadLetterConfig" in target
    assert fn["Properties"]["Timeout"] == 120


def test_only_the_consumer_carries_the_media_layer_and_it_holds_pyav(aws_app: Synthesized) -> None:
    template = aws_app.template("Api")
    layers = template.find_resources("AWS::Lambda::LayerVersion")
    ((media_id, media),) = [(n, layer) for n, layer in layers.items() if n.startswith("ClipDownloadsMediaLayer")]
    carriers = [
        f["Properties"]["Handler"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if {"Ref": media_id} in f["Properties"].get("Layers", [])
    ]
    assert carriers == [HANDLER]
    python = _asset_dir(aws_app, media) / "python"
    assert (python / "av" / "__init__.py").is_file()
    assert list(python.glob("av.libs/libavformat*.so*"))  # FFmpeg's libraries come with the wheel
    assert not (python / "letslive").exists()  # the domain package is the shared layer's


def test_the_consumer_reads_writes_and_deletes_clip_objects_and_updates_clip_items_only(aws_app: Synthesized) -> None:
    template = aws_app.template("Api")
    functions = template.find_resources("AWS::Lambda::Function")
    (fn,) = [f for f in functions.values() if f["Properties"]["Handler"] == HANDLER]
    statements = _statements(aws_app, "Api", {"Ref": fn["Properties"]["Role"]["Fn::GetAtt"][0]})
    s3 = [s for s in statements if any(a.startswith("s3:") for a in _actions(s))]
    (objects,) = s3
    assert sorted(_actions(objects)) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert objects["Resource"]["Fn::Join"][1][-1] == "/hls/clips/*"
    dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in _actions(s))]
    (table,) = dynamodb
    assert sorted(_actions(table)) == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    assert "index" not in json.dumps(table["Resource"])
    assert not [a for s in statements for a in _actions(s) if a.split(":")[0] in ("events", "cloudfront", "kms")]
    variables = fn["Properties"]["Environment"]["Variables"]
    assert {ENV_MEDIA_BUCKET, table_env_var(Table.VODS)} <= set(variables)
    assert not {table_env_var(t) for t in Table if t is not Table.VODS} & set(variables)
