# The process-wide settings of the C core (_runtime.pyx), for the other binding modules.

cdef int _thread_count(object n, str func, str name=*) except -1
