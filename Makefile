# The two commands of the README. Both install what they need (PostgreSQL from the
# distribution when initdb is missing) and start their own private database.
.PHONY: run test build

run:
	@scripts/run.sh

test:
	@scripts/test.sh

build:
	swift build
