import pytest

from tests.factories import ProductFactory


@pytest.fixture
def tee(db):
    return ProductFactory(sku="TEE-M", name="T-shirt M", price="19.99", stock_quantity=5)
