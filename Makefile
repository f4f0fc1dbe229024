.PHONY: check test lint types demo
check test:
	scripts/test
lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
types:
	.venv/bin/mypy .
demo:
	scripts/demo
