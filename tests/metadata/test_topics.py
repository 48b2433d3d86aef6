import pytest

from hpbroker.metadata.topics import InvalidTopic, TopicRegistry, validate_topic_name


def test_registry_persists(tmp_path):
    r = TopicRegistry(tmp_path / "__topics.json")
    info = r.create("a.b-c_d", 3, {"retention.ms": "1"})
    r.set_partitions("a.b-c_d", 5)
    r2 = TopicRegistry(tmp_path / "__topics.json")
    got = r2.get("a.b-c_d")
    assert got.num_partitions == 5 and got.configs == {"retention.ms": "1"} and got.topic_id == info.topic_id
    r2.delete("a.b-c_d")
    assert TopicRegistry(tmp_path / "__topics.json").get("a.b-c_d") is None


@pytest.mark.parametrize("name", ["", ".", "..", "a b", "x" * 250, "ü"])
def test_illegal_names(name):
    with pytest.raises(InvalidTopic):
        validate_topic_name(name)
