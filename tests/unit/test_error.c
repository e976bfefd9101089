/*
 * test_error.c - the library's error codes: every code of the reserved
 * block has a message of its own and a name, and codes outside the block
 * fall through to strerror or "unknown error".
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "rgn.h"
#include "testutil.h"

static void every_library_code_has_its_own_message_and_name(void **state)
{
	(void)state;
	for (int code = RGN_EBASE; code >= RGN_ELAST; code--) {
		const char *msg = rgn_strerror(code), *name = rgn_errname(code);

		assert_non_null(name);
		assert_int_equal(strncmp(name, "RGN_E", 5), 0);
		assert_string_not_equal(msg, "unknown error");
		for (int other = RGN_EBASE; other > code; other--) {
			assert_string_not_equal(msg, rgn_strerror(other));
			assert_string_not_equal(name, rgn_errname(other));
		}
	}
	assert_string_equal(rgn_errname(RGN_ECORRUPT), "RGN_ECORRUPT");
	assert_string_equal(rgn_errname(RGN_ENOTENV), "RGN_ENOTENV");
	/* A message starts with its code's name, so a log line leads back
	 * to the code a program tests for. */
	assert_string_equal(rgn_strerror(RGN_ENOTENV),
			    "RGN_ENOTENV: home holds no environment");
}

static void other_codes_are_errno_or_unknown(void **state)
{
	(void)state;
	assert_string_equal(rgn_strerror(0), "success");
	assert_string_equal(rgn_strerror(-ENOENT), strerror(ENOENT));
	assert_string_equal(rgn_strerror(RGN_ELAST - 1), "unknown error");
	assert_string_equal(rgn_strerror(RGN_EBASE + 1), "unknown error");
	assert_null(rgn_errname(-ENOENT));
	assert_null(rgn_errname(RGN_ELAST - 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			every_library_code_has_its_own_message_and_name),
		cmocka_unit_test(other_codes_are_errno_or_unknown),
	};

	tu_private_ipc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
