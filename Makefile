# swarmkit-ts: `make demo` and `make test` each set up a fresh Debian bookworm machine first.
.PHONY: setup build test lint demo bench clean

setup:
	bash scripts/setup.sh

build:
	npx tsc -p .

lint:
	npx biome check .

test: setup
	npx tsc -p . --noEmit false
	npx biome check .
	node scripts/run-tests.mjs

demo: setup
	bash scripts/demo.sh

bench: setup
	npm run bench

clean:
	rm -rf dist
