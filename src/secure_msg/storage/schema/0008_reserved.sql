-- 0008: reserved for another branch's migration (the close branch was given 0009). This file
-- changes nothing; the lead deletes it at merge once the real 0008 is in.
SELECT 1;
