/*
 * Attack payload: make system calls through the 32-bit ABIs of an x86-64
 * kernel (int $0x80 = i386, and the x32 bit on the 64-bit entry). The
 * seccomp filter must kill both: they are where filters that only know
 * the native numbers used to leak. Prints RAN, then PWNED only if a call
 * returned.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long ret = -1;

	printf("RAN\n");
	fflush(stdout);
	if (argc > 1 && strcmp(argv[1], "i386") == 0) {
		/* i386 getpid (20) through int $0x80. */
		__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
	} else if (argc > 1 && strcmp(argv[1], "x32") == 0) {
		/* x32 getpid: 39 with __X32_SYSCALL_BIT. */
		__asm__ volatile("syscall" : "=a"(ret) : "a"(39L | 0x40000000L) : "rcx", "r11", "memory");
	}
	if (ret > 0)
		printf("PWNED %ld\n", ret);
	fflush(stdout);
	return 0;
}
