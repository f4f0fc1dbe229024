"""What every test suite builds on, in one place: fresh services (services), the sandbox and a
node (stack), waiting on a condition (waiting), images (images), finished profiles written to
the database (profiles), a newcomer driven through onboarding (onboarding) and a node's HTTP
endpoints (endpoints). The conftest modules are thin fixture layers over these; tests import
helpers from here, never from a conftest."""
