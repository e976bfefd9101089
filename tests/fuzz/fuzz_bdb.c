/*
 * fuzz_bdb.c - the Berkeley DB 5.3 decoder (src/inspect/bdb.h) on any
 * bytes: a __db.001 (the REGENV of a primary, or the 24-byte record of
 * system memory mode) or a segment's first bytes.
 *
 * What must hold: the decoder reads nothing past the buffer; what it calls
 * decoded has the layout it checked for (table after REGENV, aligned,
 * first slot the primary's, no slot past the buffer's end, at most
 * RGN_BDB_MAX_REGIONS kept); decoding is a function of the bytes (twice
 * gives the same result) and cutting the buffer short only cuts the table
 * short; the classifier and the decoders agree; a segment names only
 * other regions' segments, each a valid shmid.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bdb.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static struct rgn_bdb_regenv env, again, cut;
static struct rgn_bdb_segment seg;

static void check_decoded(const struct rgn_bdb_regenv *e, size_t len)
{
	FZ_CHECK(e->nslots <= RGN_BDB_MAX_REGIONS, "nslots %u", e->nslots);
	if (!e->decoded) {
		FZ_CHECK(e->nslots == 0 && !e->has_alloc,
			 "an undecoded REGENV keeps slots or an allocator");
		return;
	}
	FZ_CHECK(!e->big_endian, "a big-endian REGENV decoded");
	FZ_CHECK(e->major == 5 && e->minor == 3, "version %u.%u decoded",
		 e->major, e->minor);
	FZ_CHECK(e->region_off >= RGN_BDB_REGENV_LEN && e->region_off % 8 == 0,
		 "table at %llu", (unsigned long long)e->region_off);
	FZ_CHECK(e->region_cnt > 0 && e->nslots <= e->region_cnt,
		 "%u slots of %u", e->nslots, e->region_cnt);
	FZ_CHECK(e->nslots > 0 && e->slots[0].id == 1 &&
			 e->slots[0].type == RGN_BDB_TYPE_ENV,
		 "the first slot is not the primary's");
	for (uint32_t i = 0; i < e->nslots; i++)
		FZ_CHECK(e->slots[i].id != 0, "unused slot %u kept", i);
	/* The slots kept came from inside the buffer: the last one used
	 * ends at or before it. */
	FZ_CHECK(e->region_off + RGN_BDB_SLOT_LEN <= len,
		 "table at %llu past %zu bytes",
		 (unsigned long long)e->region_off, len);
	FZ_CHECK(!e->has_alloc || len >= RGN_BDB_REGENV_LEN + 252,
		 "allocator decoded from %zu bytes", len);
	FZ_CHECK(rgn_bdb_find_slot(e, 1) == &e->slots[0],
		 "find_slot(1) misses the primary");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	enum rgn_bdb_form form = rgn_bdb_classify(data, len, len);
	struct rgn_bdb_ref ref;
	struct rgn_bdb_alloc a;
	int rc, rc2, is;

	FZ_CHECK((len == 0) == (form == RGN_BDB_FORM_EMPTY) &&
			 (len == RGN_BDB_REF_LEN) == (form == RGN_BDB_FORM_REF),
		 "form %d for %zu bytes", form, len);
	rc = rgn_bdb_decode_ref(data, len, &ref);
	FZ_CHECK((rc == 0) == (len == RGN_BDB_REF_LEN), "decode_ref %d", rc);

	rc = rgn_bdb_decode_regenv(data, len, &env);
	FZ_CHECK(rc == 0 || rc == -EINVAL, "decode_regenv %d", rc);
	if (form == RGN_BDB_FORM_REGENV)
		FZ_CHECK(rc == 0, "a REGENV by the classifier not decoded");
	if (rc == 0) {
		check_decoded(&env, len);
		rc2 = rgn_bdb_decode_regenv(data, len, &again);
		FZ_CHECK(rc2 == 0 && memcmp(&env, &again, sizeof(env)) == 0,
			 "two decodings of the same bytes differ");
		/* Cut short, the table can only lose slots at its end. */
		if (env.decoded && len > RGN_BDB_REGENV_LEN) {
			size_t n = RGN_BDB_REGENV_LEN +
				   (size_t)data[len - 1] * 8 %
					   (len - RGN_BDB_REGENV_LEN);

			rc2 = rgn_bdb_decode_regenv(data, n, &cut);
			FZ_CHECK(rc2 == 0, "a cut REGENV refused");
			check_decoded(&cut, n);
			FZ_CHECK(cut.nslots <= env.nslots &&
					 memcmp(cut.slots, env.slots,
						cut.nslots *
							sizeof(cut.slots[0])) ==
						 0,
				 "cutting the buffer changed the slots");
		}
	}

	rc = rgn_bdb_decode_alloc(data, len, len > 200 ? data[0] : 160, &a);
	FZ_CHECK(rc == 0 || rc == -EINVAL, "decode_alloc %d", rc);

	is = rgn_bdb_segment_decode(data, len, len, 0x1234, 7, &seg);
	FZ_CHECK(is == 0 || is == 1, "segment_decode %d", is);
	if (is) {
		uint32_t magic_le = len >= 4 ? (uint32_t)data[0] |
						       (uint32_t)data[1] << 8 |
						       (uint32_t)data[2] << 16 |
						       (uint32_t)data[3] << 24
					     : 0;
		uint32_t magic_be = len >= 4 ? (uint32_t)data[3] |
						       (uint32_t)data[2] << 8 |
						       (uint32_t)data[1] << 16 |
						       (uint32_t)data[0] << 24
					     : 0;

		FZ_CHECK(magic_le == RGN_BDB_MAGIC || magic_be == RGN_BDB_MAGIC,
			 "a segment without the magic taken for a primary");
		FZ_CHECK(seg.shmid == 7 && seg.key == 0x1234 && seg.size == len,
			 "identity not kept");
		check_decoded(&seg.env, len);
		FZ_CHECK(seg.nothers <= seg.env.nslots, "%u others of %u slots",
			 seg.nothers, seg.env.nslots);
		for (uint32_t i = 0; i < seg.nothers; i++)
			FZ_CHECK(seg.other_ids[i] != 1 &&
					 seg.other_shmids[i] >= 0,
				 "other %u: region %u shmid %d", i,
				 seg.other_ids[i], seg.other_shmids[i]);
	}
	return 0;
}
