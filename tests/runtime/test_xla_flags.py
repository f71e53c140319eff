"""The XLA flag the rnngen command sets for itself (``rnngen.runtime.xla_flags``); the command's own check is in
``test_cli.py``."""

from rnngen.runtime.xla_flags import prefer_wide_vectors


def test_it_asks_for_512_bit_vectors():
    environ = {}
    assert prefer_wide_vectors(environ)
    assert environ == {"XLA_FLAGS": "--xla_cpu_prefer_vector_width=512"}


def test_it_keeps_the_other_flags():
    environ = {"XLA_FLAGS": "--xla_dump_to=/tmp/dump"}
    assert prefer_wide_vectors(environ)
    assert environ["XLA_FLAGS"] == "--xla_dump_to=/tmp/dump --xla_cpu_prefer_vector_width=512"


def test_a_width_already_in_xla_flags_wins():
    environ = {"XLA_FLAGS": "--xla_cpu_prefer_vector_width=256"}
    assert not prefer_wide_vectors(environ)
    assert environ == {"XLA_FLAGS": "--xla_cpu_prefer_vector_width=256"}
