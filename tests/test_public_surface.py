"""The packages' stated surfaces (issue 17): every name in `__all__` of proxy, proxy.config,
proxy.http and proxy.network resolves, importing a package imports none of its modules, and an
unknown name is an AttributeError that names it."""

import importlib
import subprocess
import sys

import pytest

PACKAGES = ("proxy", "proxy.config", "proxy.http", "proxy.network", "fuzz.configgen", "fuzz.triage")


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_name_resolves(name):
    package = importlib.import_module(name)
    assert package.__all__, name
    for public in package.__all__:
        assert getattr(package, public) is not None, f"{name}.{public}"
        assert public in dir(package)


@pytest.mark.parametrize("name", ("proxy", "proxy.config", "proxy.http", "proxy.network"))
def test_importing_a_core_package_imports_none_of_its_modules(name):
    code = (
        f"import sys, {name}; print(sorted(m for m in sys.modules "
        f"if m.startswith('proxy') and m not in ('proxy', 'proxy._lazy', {name!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = eval(done.stdout)  # noqa: S307 - our own printed list
    assert all(m in ("proxy.config", "proxy.http", "proxy.network") for m in loaded), loaded


def test_an_unknown_name_is_an_attribute_error_naming_it():
    import proxy.http

    with pytest.raises(AttributeError, match="'proxy.http' has no attribute 'H3Codec'"):
        proxy.http.H3Codec  # noqa: B018
