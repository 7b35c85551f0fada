# S3 upload (roamsim upload / run --upload): its tests run against a moto S3
# server process on loopback, started and stopped by the test fixture.
.PHONY: test-s3

test-s3: $(STAMP_TEST)
	@mkdir -p $(dir $(JUNIT))
	$(BIN)/pytest tests/test_upload.py --junitxml=$(dir $(JUNIT))junit-s3.xml $(PYTEST_ARGS)
