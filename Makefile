# Shortcuts for the scripts; the scripts are the source of truth (see README.md).
.PHONY: run test demo
run:
	scripts/run.sh
test:
	scripts/test.sh
demo:
	scripts/demo.sh
