/*
 * mountinfo.h - reading /proc/self/mountinfo, for the leak scanner (which
 * never enters a FUSE mount) and the mount (which refuses a mount point
 * already in use).  One decoder of its escapes, so both read the same
 * paths.
 */
#ifndef RGN_MOUNTINFO_H
#define RGN_MOUNTINFO_H

/* Undo mountinfo's octal escapes in place ("\040" for a space, "\011" for
 * a tab, "\012" for a newline, "\134" for a backslash). */
void rgn_mountinfo_unescape(char *s);

#endif /* RGN_MOUNTINFO_H */
