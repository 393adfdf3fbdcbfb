import gzip

from shop.export import compress, fingerprint


def test_compress(tmp_path):
    export = tmp_path / "sales.csv"
    export.write_text("sku,quantity\nMUG-1,2\n")
    assert gzip.decompress(compress(export).read_bytes()) == export.read_bytes()


def test_fingerprint():
    assert fingerprint(b"a") == fingerprint(b"a") != fingerprint(b"b")
    assert len(fingerprint(b"a")) == 12
