.PHONY: check test lint types demo
check:
	scripts/check
test:
	scripts/test
lint:
	.venv/bin/ruff check .
types:
	.venv/bin/mypy .
demo:
	scripts/demo
