# cmake -DWHY=... -P fail_with.cmake: a test that cannot run says why and fails.
message(FATAL_ERROR "${WHY}")
