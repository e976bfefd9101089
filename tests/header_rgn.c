/* rgn.h must compile on its own, first, in C and without _GNU_SOURCE
 * mattering: an embedder includes nothing else before it. */
#include "rgn.h"

int main(void)
{
	struct rgn_env_config cfg;

	rgn_env_config_init(&cfg);
	return rgn_strerror(RGN_ENOKEY)[0] == '\0';
}
