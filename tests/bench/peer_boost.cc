/*
 * peer_boost.cc - the Boost.Interprocess peer of the allocator benchmark:
 * a managed_shared_memory segment (rbtree_best_fit allocator, a
 * process-shared mutex around every call), exactly as a program sharing
 * memory with Boost would use it.  See peer_boost.h.
 */
#include <cstdio>
#include <new>
#include <string>

#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/version.hpp>

#include "peer_boost.h"

namespace bip = boost::interprocess;

struct bpeer {
	bip::managed_shared_memory seg;
	std::string name;
};

struct bpeer *bpeer_open(const char *name, size_t size, char *err,
			 size_t errlen)
{
	try {
		bip::shared_memory_object::remove(name);
		bpeer *b = new bpeer{bip::managed_shared_memory(
					     bip::create_only, name, size),
				     name};
		return b;
	} catch (const std::exception &e) {
		std::snprintf(err, errlen, "managed_shared_memory %s: %s", name,
			      e.what());
		bip::shared_memory_object::remove(name);
		return nullptr;
	}
}

void *bpeer_alloc(struct bpeer *b, size_t n)
{
	return b->seg.allocate(n, std::nothrow);
}

void bpeer_free(struct bpeer *b, void *p)
{
	b->seg.deallocate(p);
}

size_t bpeer_free_memory(struct bpeer *b)
{
	return b->seg.get_free_memory();
}

void bpeer_close(struct bpeer *b)
{
	std::string name = b->name;

	delete b;
	bip::shared_memory_object::remove(name.c_str());
}

const char *bpeer_version(void)
{
	return BOOST_LIB_VERSION;
}
